from copctl.cli import main

main()
