"""The web console at ``/console``: server-rendered pages (Jinja and htmx) over the same services
as the API, signed in with a tenant key or the admin token. See docs/console.md."""
