from dancebooth.cli import main

main()
