"""A minimal Flask service: JSON on `/`, and proof that compiled extensions load."""

import sys

import markupsafe
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def index():
    return jsonify(
        message="hello from cairn",
        python=sys.version.split()[0],
        # MarkupSafe's C speedups: a compiled extension from a manylinux wheel.
        speedups=markupsafe._escape_inner.__module__ == "markupsafe._speedups",
    )


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000)
