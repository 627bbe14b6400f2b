"""Lambda handlers of the compensation system: the claims API and the approval workflow's tasks.

Deployed by ``HandlerFunction(source_dir=..., source_package=...)`` as the package ``compensation_handlers``; third-party code
(Powertools, pydantic) comes from the library's handler layer.
"""
