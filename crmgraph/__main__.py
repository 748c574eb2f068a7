from crmgraph.cli import main

main()
