from persona_api.cli import main

raise SystemExit(main())
