"""Lambda code the components deploy: Cognito triggers, the API authorizer and the MSK consumer."""
