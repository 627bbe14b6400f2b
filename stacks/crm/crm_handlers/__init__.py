"""Lambda handlers of the CRM: the LLM service behind the load balancer and the SFTP integration.

Deployed by ``HandlerFunction(source_dir=..., source_package=...)`` as the package ``crm_handlers``.
"""
