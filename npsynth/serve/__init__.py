"""The local web page: paint the hole over a photo in a browser, fill it, download the result.

`python -m eval.serve` runs it (`npsynth.serve.server.serve`). `app` holds the routes,
`jobs` the one-at-a-time worker, `uploads` the image decoding and limits, `estimate` the
time model; `static/` is the page itself (plain HTML, CSS and JavaScript, no build step).
Needs the `serve` extra (Starlette and uvicorn).
"""
