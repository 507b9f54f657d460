"""Write the per-user settings file (dataset roots and output folders).

    python tracking/create_default_local_file.py --workspace_dir . --data_dir ./data --save_dir .

The same flags as the official script; instead of generating two ``local.py`` modules it writes one
YAML file, ``stark_local.yaml`` in the workspace folder unless ``--out`` says otherwise, so two workspaces
never overwrite each other's settings. Runs started in that folder read it (every run logs which settings
file it used); from elsewhere pass ``--settings FILE`` or set ``$STARK_LOCAL_FILE``. Edit the dataset entries
there when your data lives elsewhere, then run ``tracking/check_datasets.py``.
"""

import argparse
import sys
from pathlib import Path

from lib.config import write_local_settings
from lib.config.local import LOCAL_FILE_NAME


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workspace_dir", required=True, help="where tensorboard logs go and (by default) the settings file"
    )
    parser.add_argument("--data_dir", required=True, help="parent folder of got10k/, lasot/, trackingnet/, coco/")
    parser.add_argument("--save_dir", required=True, help="where checkpoints/, logs/ and test/ results go")
    parser.add_argument("--out", default=None, help=f"settings file to write (default: WORKSPACE_DIR/{LOCAL_FILE_NAME})")
    args = parser.parse_args()
    out = Path(args.out) if args.out else Path(args.workspace_dir) / LOCAL_FILE_NAME
    settings = write_local_settings(out, args.workspace_dir, args.data_dir, args.save_dir)
    print(f"wrote {out.resolve()} (runs started in {out.resolve().parent} read it; elsewhere pass --settings {out})")
    for key, value in vars(settings).items():
        print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
