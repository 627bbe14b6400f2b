from components.naming import tags
import handlers.authorizer
