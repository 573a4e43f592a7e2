"""Speech: ASR, TTS and VAD behind ports, telephone audio, prompt cache, barge-in, streaming.

Entry points for the call session: :mod:`speech.factory` (engines from settings),
:mod:`speech.ports` (the protocols), :mod:`speech.cache`, :mod:`speech.bargein` and
:mod:`speech.stream_server`. See ``speech/README.md`` for the FreeSWITCH side.
"""
