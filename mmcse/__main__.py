from mmcse.cli import main

raise SystemExit(main())
