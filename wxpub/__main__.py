from wxpub.cli import main

main()
