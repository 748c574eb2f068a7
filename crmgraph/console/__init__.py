"""The console: a web page served by crmgraph at ``/`` (docs/console.md).

A dashboard (大屏) of the reports with charts and drill-down, customer search and the customer 360 page,
the identity review queue, and the lead and ticket routing queues. It is plain JavaScript modules and a
vendored Chart.js, installed with the package and served by the facade (no CDN: it works offline), and it
talks only to the graph's own GraphQL API with the signed-in token, so it shows nothing the role could not
query. :mod:`crmgraph.console.routes` serves it; :mod:`crmgraph.console.demo_sign_in` issues the demo's
role tokens when the configuration allows it, and :mod:`crmgraph.console.settings` is the ``console:``
section (imported by the configuration itself, so this package imports nothing).
"""
