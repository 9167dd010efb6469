"""An audio file in, one Document of time-coded speech out.

``extract_audio`` (called in the ingesting process) resolves the speech model and where
it runs once (``models``: the base model is joined and checked here, not per worker),
then runs :func:`worker` in an isolated child process (``docframe.isolation``, with the
media options' ``timeout_s`` and ``memory_mb``): FFmpeg parses hostile bytes in C and
Whisper can run long, so a file that hangs, bloats or crashes ends as one recorded error
while the batch goes on. In the child:

1. ``decode.probe`` reads the headers (duration, codec, channels, sample rate: the
   document metadata); ``decode.decode`` gives 16 kHz float32 samples, cut at
   ``max_seconds`` with a ``note``.
2. :func:`speech` transcribes them (``transcribe.transcribe``: Silero VAD, word
   timestamps, language given or detected) into one element per Whisper segment:
   ``Element(text, start_s, end_s, metadata={"stream": "speech", "words": [...]})``,
   ``words`` being ``[start_s, end_s, word]`` triples.

**Two channels.** A call or interview recorded with one speaker per channel (as
``stereo_diarization.wav``) mixed to mono is two people talking over each other; apart,
each channel is one clear voice. A music or speech mix in stereo is the same sound
twice, and transcribing it twice would double every chunk. The rule
(:func:`channel_mode`): two channels whose samples are nearly uncorrelated (cosine
similarity under :data:`SPLIT_BELOW`) and both carrying sound (RMS over
:data:`SILENT_RMS`) are transcribed apart, each element with ``metadata.channel`` 0
(left) or 1 (right), elements in time order; channels in opposite phase (a miswired
recorder: a mix would cancel the voice) are read from the left one; anything else is
mixed down. The measure: 0.00 for ``stereo_diarization.wav``, 1.00 for the stereo
``jfk.flac``, 0.53 for the music and effects of Big Buck Bunny. Speech leaking from one
microphone into the other can appear on both channels.

:func:`speech` is also what a video's sound track goes through.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docframe.connectors.base import Document, Element
from docframe.connectors.media.options import MediaOptions
from docframe.errors import ConnectorError

if TYPE_CHECKING:
    import numpy as np

    from docframe.connectors.media.decode import Decoded
    from docframe.connectors.media.models import AsrModel, Runtime
    from docframe.connectors.media.transcribe import Transcript

# imported once by the fork server, so each worker starts with them loaded
PRELOAD = (
    "av",
    "numpy",
    "faster_whisper",
    "docframe.connectors.media.decode",
    "docframe.connectors.media.transcribe",
    "docframe.connectors.media.audio",
)
PROBE_TIMEOUT_S = 30.0
SPLIT_BELOW = 0.3  # cosine similarity of the channels under which they are read apart
OPPOSITE_BELOW = -0.5  # ... and under which one is the other inverted
SILENT_RMS = 10 ** (-50 / 20)  # -50 dBFS: a channel quieter than this carries nothing
CHANNEL_MODES = ("mono", "mixed", "split", "left")


def extract_audio(
    path: Path,
    options: MediaOptions,
    *,
    progress: Callable[[str, float, float], None] | None = None,
) -> Document:
    """Read one audio file in an isolated worker: a Document, or a one-line ConnectorError.

    ``progress(uri, media seconds done, total)`` is called from a thread of this
    process while the worker transcribes.
    """
    from docframe.connectors.media import models
    from docframe.connectors.media.progress import ProgressRelay
    from docframe.isolation import run_isolated

    label = str(path)
    model = models.resolve(options.asr_model)
    runtime = models.runtime(options.device, options.compute_type)
    # CUDA maps tens of GB of address space when it starts: an RLIMIT_AS worker could not
    # use the GPU, so the memory limit holds on the CPU path only
    memory_mb = None if runtime.device == "cuda" else options.memory_mb
    with ProgressRelay(label, progress) as relay:
        return run_isolated(
            worker, str(Path(path).absolute()), label, Path(path).name, options, model,
            runtime, relay.path,
            timeout_s=options.timeout_s, memory_mb=memory_mb, label=label, preload=PRELOAD,
        )  # fmt: skip


def holds_audio_only(path: Path, options: MediaOptions) -> bool:
    """True when ``path`` has sound and no moving picture (probed in an isolated worker);
    False for a film and for a file that cannot be probed (the video connector, which
    takes those, then says why)."""
    from docframe.isolation import run_isolated

    try:
        return run_isolated(
            _probe_audio_only, str(Path(path).absolute()), str(path),
            timeout_s=PROBE_TIMEOUT_S, memory_mb=options.memory_mb, label=str(path),
            preload=PRELOAD,
        )  # fmt: skip
    except ConnectorError:
        return False


def _probe_audio_only(path: str, label: str) -> bool:
    from docframe.connectors.media.decode import probe

    try:
        info = probe(Path(path), label=label)
    except ConnectorError:
        return False
    return info.has_audio and not info.has_video


# ------------------------------------------------------------------ in the worker


def worker(
    path: str,
    label: str,
    doc_key: str,
    options: MediaOptions,
    model: AsrModel,
    runtime: Runtime,
    progress_path: str | None,
) -> Document:
    """Runs in the isolated child: probe, decode, transcribe (see the module docstring)."""
    from docframe.connectors.media.decode import decode, probe
    from docframe.connectors.media.progress import reporter

    file = Path(path)
    begun = time.perf_counter()
    info = probe(file, label=label)
    decoded = decode(file, label=label, max_seconds=options.max_seconds, stereo=info.channels == 2)
    decode_s = time.perf_counter() - begun
    result = speech(
        decoded, options, model=model, runtime=runtime, progress=reporter(progress_path)
    )
    meta: dict[str, Any] = info.as_metadata()
    meta.setdefault("duration_s", round(decoded.seconds, 3))  # headers that do not say
    meta.update(result.metadata)
    meta["seconds"] = {"decode": round(decode_s, 3), "transcribe": round(result.seconds, 3)}
    fell_back = f"speech ran on the CPU: {runtime.reason}" if runtime.fallback else None
    notes = [n for n in (decoded.note, result.note, fell_back) if n]
    if notes:
        meta["note"] = "; ".join(notes)
    return Document(
        doc_key=doc_key,
        elements=result.elements,
        title=file.stem,
        metadata=meta,
        parser="faster-whisper",
    )


@dataclass
class Speech:
    """What :func:`speech` found: elements in time order and facts for the metadata."""

    elements: list[Element]
    metadata: dict[str, Any]  # language, language_probability, speech_s, asr_*, channel_mode
    seconds: float  # wall time of the transcription (model load included)
    note: str | None = None
    transcripts: list[Transcript] = field(default_factory=list)  # one, or one per channel


def speech(
    decoded: Decoded,
    options: MediaOptions,
    *,
    model: AsrModel,
    runtime: Runtime,
    progress: Callable[[float, float], None] | None = None,
) -> Speech:
    """Transcribe decoded audio (one row, or two channels to decide on, see
    :func:`channel_mode`) into ``speech`` elements. ``progress(done, total)`` counts
    seconds of the file, both channels together."""
    import numpy as np

    from docframe.connectors.media.transcribe import transcribe

    samples = decoded.samples
    mode = channel_mode(samples)
    if mode == "split":
        tracks = [(0, samples[0]), (1, samples[1])]
    elif mode == "left":
        tracks = [(None, samples[0])]
    elif mode == "mixed":
        tracks = [(None, (samples[0] + samples[1]) * np.float32(0.5))]
    else:
        tracks = [(None, samples[0])]
    begun = time.perf_counter()
    transcripts: list[Transcript] = []
    elements: list[Element] = []
    for i, (channel, audio) in enumerate(tracks):
        transcript = transcribe(
            audio, options, model=model, runtime=runtime,
            progress=_share(progress, i, len(tracks)),
        )  # fmt: skip
        transcripts.append(transcript)
        elements.extend(_elements(transcript, channel))
    seconds = time.perf_counter() - begun
    elements.sort(key=lambda e: (e.start_s, e.metadata.get("channel") or 0, e.end_s))
    main = max(transcripts, key=lambda t: t.speech_s)  # the language of the most speech
    meta = main.metadata()
    if samples.shape[0] == 2:
        meta["channel_mode"] = mode
    if mode == "split":
        meta["channel_languages"] = [t.language for t in transcripts]
        meta["speech_s"] = round(sum(t.speech_s for t in transcripts), 3)
    note = None
    if not elements:
        note = "no speech found" if main.speech_s == 0 else "no words recognised in the speech"
    return Speech(elements, meta, seconds, note, transcripts)


def channel_mode(samples: np.ndarray) -> str:
    """``mono`` (one row), or for two channels ``split``, ``left`` or ``mixed`` (see the
    module docstring for the rule and the figures behind it)."""
    import numpy as np

    if samples.shape[0] != 2 or samples.shape[1] == 0:
        return "mono"
    left, right = samples[0], samples[1]
    n = samples.shape[1]
    energy_l, energy_r = float(np.dot(left, left)), float(np.dot(right, right))
    if min(energy_l, energy_r) / n < SILENT_RMS**2:
        return "mixed"  # one channel is silent: the mix is the other one
    similarity = float(np.dot(left, right)) / (energy_l * energy_r) ** 0.5
    if similarity < OPPOSITE_BELOW:
        return "left"
    return "split" if similarity < SPLIT_BELOW else "mixed"


def _share(
    progress: Callable[[float, float], None] | None, index: int, count: int
) -> Callable[[float, float], None] | None:
    """Track ``index`` of ``count`` as its share of the file's seconds."""
    if progress is None:
        return None

    def report(done_s: float, total_s: float) -> None:
        progress((index * total_s + done_s) / count, total_s)

    return report


def _elements(transcript: Transcript, channel: int | None) -> list[Element]:
    out = []
    for segment in transcript.segments:
        if not segment.text:
            continue
        meta: dict[str, Any] = {"stream": "speech"}
        if channel is not None:
            meta["channel"] = channel
        meta["words"] = [[w.start, w.end, w.text.strip()] for w in segment.words]
        out.append(Element(segment.text, start_s=segment.start, end_s=segment.end, metadata=meta))
    return out
