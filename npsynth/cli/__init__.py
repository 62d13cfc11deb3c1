"""What the `eval/` command lines share that is only about the command line: the method
settings as flags (`settings`), checks of flag combinations and the modes of
`python -m eval.inpaint` (`inpaint`). The library never imports this package."""
