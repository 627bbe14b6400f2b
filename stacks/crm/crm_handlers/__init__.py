"""Lambda handlers of the CRM: the LLM service behind the load balancer and the SFTP integration.

Deployed by ``HandlerFunction(code_dir=...)`` as the package ``crm_handlers``.
"""
