"""Where the simulated legacy systems keep their data.

The CRM and the ticket system are HTTP servers whose own database is a SQLite file (the servers read it on
every request, so a 100,000-customer estate does not have to fit in memory). The ERP *is* a SQL database
that crmgraph reaches directly; its schema lives in ``erp`` and loads into SQLite, PostgreSQL or MariaDB.
"""
