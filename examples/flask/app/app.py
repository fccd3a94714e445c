"""A minimal Flask service: JSON on `/`, and proof that compiled extensions load."""

import os
import sys

import markupsafe
from flask import Flask, jsonify

app = Flask(__name__)

# Run as `python3 -m app`, the module's spec names the bytecode it was loaded from.
BYTECODE = __spec__ is not None and __spec__.cached is not None and os.path.exists(__spec__.cached)


@app.get("/")
def index():
    return jsonify(
        message="hello from cairn",
        python=sys.version.split()[0],
        # MarkupSafe's C speedups: a compiled extension from a manylinux wheel.
        speedups=markupsafe._escape_inner.__module__ == "markupsafe._speedups",
        # Whether this module was loaded from the bytecode the build compiled.
        bytecode=bool(BYTECODE),
    )


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000)
