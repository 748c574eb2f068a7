"""The HTTP layer in front of the GraphQL engine.

What a request must satisfy before GraphQL sees it, outermost first:

- ``protocol``: the HTTP/1.1 connection (uvicorn's httptools protocol, guarded): the request head's size
  and field count (431), the time to deliver it (408, or a silent close for a connection that sent nothing);
- ``body``: an ASGI middleware: the body's size (413, from Content-Length before reading, else counted
  while streaming) and the time to deliver it (408);
- ``graphql_view``: GraphQL over HTTP: the media type asked for (406) and sent (415), the JSON body's shape
  (400), GET carrying a mutation (405 with ``Allow: POST``), and the status codes of
  ``application/graphql-response+json``; before the body is parsed: CSRF (``csrf``), the principal, its
  rate limit, and the document to run (``persisted``: trusted documents);
- ``production``: production mode's schema extension (introspection refused, suggestions cut);
- ``security_headers``: headers on every answer and the GraphiQL page's CSP; ``operators``: who reads
  ``/metrics`` and ``/readyz``'s details.

Every refusal is a :class:`~crmgraph.web.problems.HttpRefusal` with a GraphQL-shaped JSON body naming the
part of the request at fault and what was expected.
"""
