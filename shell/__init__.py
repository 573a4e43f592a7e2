"""The operator shell: the `ivr` CLI root, `ivr doctor`, the process supervisor behind `make run`,
service specs and Rasa model training. A composition root: it may import every package."""
