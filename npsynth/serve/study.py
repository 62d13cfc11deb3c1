"""The study page: a blind study's pair sheets one at a time, the judge's answers saved.

Routes (JSON unless said otherwise; errors are `{"error": message}`):

  GET  /                          the page (npsynth/serve/static/study.html)
  GET  /static/...                its script and styles
  GET  /api/study                 {"pairs": [pair ids in order]}
  GET  /api/study/sheets/ID.png   the pair sheet
  POST /api/study/judges          {"name": "ann" or ""} -> {"judge", "answers": {pair: L|R|T}}
  POST /api/study/answers         {"judge", "pair", "answer": L|R|T} -> {"answered", "count"}

Answers go to `STUDY/answers/<judge>.csv` (`pair,answer`, what `eval.study score` reads),
rewritten atomically after every answer; a judge who comes back under the same name goes on
where they stopped. The app never reads the study's key.json, so neither the key nor the
methods' names can reach the browser. The same `LocalOnly` check as the main page guards it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from npsynth.files import atomic_write, check_regular, read_regular
from npsynth.serve.app import STATIC, LocalOnly
from npsynth.studies.study import LETTERS, parse_answers, study_pairs

JUDGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")


def answers_csv(answers: dict[str, str], pairs: Sequence[str]) -> str:
    """One judge's answers as `eval.study score` reads them, in the study's pair order."""
    return "pair,answer\n" + "".join(f"{p},{answers[p]}\n" for p in pairs if p in answers)


def judge_name(name: str) -> str:
    """The judge's file name: `name` when it is 1-40 letters, digits, - or _; a timestamp
    when empty; else a ValueError."""
    name = name.strip()
    if not name:
        return time.strftime("judge-%Y%m%d-%H%M%S")
    if not JUDGE_NAME.fullmatch(name):
        raise ValueError("a judge name is 1 to 40 letters, digits, - or _")
    return name


def create_study_app(study: Path, *, hosts: Sequence[str]) -> Starlette:
    """The study page's app for the study folder `study`; `hosts` as `create_app`'s."""
    study = Path(study)
    pairs = study_pairs(study)
    if not pairs:
        raise ValueError(f"{str(study)!r} has no pair sheets (sheets/pair_*.png)")
    folder = study / "answers"

    def stored(judge: str) -> dict[str, str]:
        path = folder / f"{judge}.csv"
        if not check_regular(path, "answer file"):  # a FIFO there is refused, never waited on
            return {}
        return parse_answers(read_regular(path, "answer file"), pairs, name=str(path))

    async def read_json(request: Request) -> dict:
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            raise HTTPException(400, "the request must be a JSON object")
        return body

    async def index(request: Request):
        return FileResponse(STATIC / "study.html", media_type="text/html")

    async def info(request: Request):
        return JSONResponse({"pairs": pairs})

    async def sheet(request: Request):
        pair = request.path_params["pair"]
        if pair not in pairs:
            raise HTTPException(404, f"no pair {pair!r} in this study")
        return FileResponse(study / "sheets" / f"{pair}.png", media_type="image/png")

    async def judge(request: Request):
        body = await read_json(request)
        try:
            name = judge_name(str(body.get("name", "")))
            return JSONResponse({"judge": name, "answers": stored(name)})
        except ValueError as error:
            raise HTTPException(400, str(error))

    async def answer(request: Request):
        body = await read_json(request)
        pair, letter = body.get("pair"), str(body.get("answer", "")).upper()
        if pair not in pairs:
            raise HTTPException(400, f"no pair {pair!r} in this study")
        if letter not in LETTERS:
            raise HTTPException(400, "the answer must be L, R or T")
        name = str(body.get("judge", ""))
        if not JUDGE_NAME.fullmatch(name):
            raise HTTPException(400, "name the judge (POST /api/study/judges gives the name)")
        try:
            answers = stored(name) | {pair: letter}
        except ValueError as error:  # the file was edited by hand into a bad one
            raise HTTPException(409, str(error))
        atomic_write(folder / f"{name}.csv", answers_csv(answers, pairs))
        return JSONResponse({"answered": len(answers), "count": len(pairs)})

    async def http_error(request: Request, error: HTTPException):
        return JSONResponse({"error": error.detail}, status_code=error.status_code)

    routes = [
        Route("/", index),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/api/study", info),
        Route("/api/study/sheets/{pair}.png", sheet),
        Route("/api/study/judges", judge, methods=["POST"]),
        Route("/api/study/answers", answer, methods=["POST"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(LocalOnly, allowed=hosts)],
        exception_handlers={HTTPException: http_error},
    )
