"""Speech to timed text with faster-whisper (CTranslate2): the one call both media
connectors make.

    transcribe(audio: np.ndarray, options: MediaOptions, *,
               model: AsrModel | None = None, runtime: Runtime | None = None,
               progress: Callable[[float, float], None] | None = None) -> Transcript

``audio`` is 16 kHz mono float32 (``decode.decode(...).samples[0]``). ``model`` and
``runtime`` default to ``models.resolve(options.asr_model)`` and
``models.runtime(options.device, options.compute_type)``; resolve them once in the
parent and pass them to workers, so the model is joined and checked once. ``progress``
is called with (media seconds done, total) after each segment. The result is plain
frozen dataclasses: :class:`Transcript` with its language, the language's probability
(1.0 when it was given) and :class:`Segment`\\ s, each with start, end, text and
:class:`Word`\\ s, all in seconds of the input (silence cut by the VAD included).

:meth:`Transcript.metadata` gives the document metadata under the keys both connectors
record (language, language_probability, speech_s, asr_model, asr_device, compute_type).
For a file's sound with its channel rule (one speaker per channel), call
``audio.speech(decoded, ...)`` instead: it calls this once per track.

Whisper runs with faster-whisper's bundled Silero VAD (``vad_filter=True``: silence costs
nothing, and Whisper is not asked to find words in it) and word timestamps. The loaded
model is kept per process, keyed by (folder, device, compute type): a reused worker loads
it once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from docframe.connectors.media.decode import SAMPLE_RATE
from docframe.connectors.media.models import AsrModel, Runtime
from docframe.connectors.media.options import MediaOptions
from docframe.errors import ConnectorError, did_you_mean

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Segment", "Transcript", "Word", "check_language", "transcribe"]


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    avg_logprob: float | None = None
    no_speech_prob: float | None = None


@dataclass(frozen=True)
class Transcript:
    language: str
    language_probability: float  # 1.0 when the language was given, not detected
    duration_s: float  # of the audio given
    speech_s: float  # what the VAD kept
    segments: tuple[Segment, ...]
    model: str
    device: str
    compute_type: str

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)

    def metadata(self) -> dict[str, Any]:
        """The document metadata both media connectors record, under the same keys."""
        return {
            "language": self.language or None,
            "language_probability": self.language_probability,
            "speech_s": self.speech_s,
            "asr_model": self.model,
            "asr_device": self.device,
            "compute_type": self.compute_type,
        }


_models: dict[tuple[str, str, str], Any] = {}
_models_lock = threading.Lock()


def load_model(model: AsrModel, runtime: Runtime) -> Any:
    """faster-whisper's ``WhisperModel`` for ``model`` on ``runtime``, loaded once per process."""
    key = (str(model.path), runtime.device, runtime.compute_type)
    with _models_lock:
        loaded = _models.get(key)
        if loaded is None:
            from faster_whisper import WhisperModel

            try:
                loaded = WhisperModel(
                    str(model.path),
                    device=runtime.device,
                    compute_type=runtime.compute_type,
                    local_files_only=True,
                )
            except (RuntimeError, ValueError, OSError) as exc:
                raise ConnectorError(
                    f"speech model {model.name} ({model.path}) did not load on "
                    f"{runtime.device}/{runtime.compute_type}: {' '.join(str(exc).split())}",
                    help="check the model folder, or pick another --asr-model or compute type",
                ) from None
            _models[key] = loaded
        return loaded


def check_language(language: str | None, model: AsrModel | None = None) -> None:
    """Refuse a language code Whisper does not know, or one an English-only model cannot do."""
    if language is None:
        return
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    if language not in _LANGUAGE_CODES:
        raise ConnectorError(
            f"--language {language!r} is not a Whisper language code"
            f"{did_you_mean(language, _LANGUAGE_CODES)}",
            help="use an ISO 639-1 code such as en, de, fr, or leave it out to detect it",
        )
    if model is not None and not model.multilingual and language != "en":
        raise ConnectorError(
            f"--language {language!r}: the speech model {model.name} knows only English",
            help="use the default model (base), which is multilingual",
        )


def transcribe(
    audio: np.ndarray,
    options: MediaOptions,
    *,
    model: AsrModel | None = None,
    runtime: Runtime | None = None,
    progress: Callable[[float, float], None] | None = None,
) -> Transcript:
    """Whisper's segments of ``audio`` (16 kHz mono float32); see the module docstring."""
    import numpy as np

    from docframe.connectors.media import models

    model = model or models.resolve(options.asr_model)
    runtime = runtime or models.runtime(options.device, options.compute_type)
    check_language(options.language, model)
    audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
    total = audio.shape[0] / SAMPLE_RATE
    whisper = load_model(model, runtime)
    _thread_lock_for_tqdm()
    if audio.shape[0] == 0:
        return Transcript("", 0.0, 0.0, 0.0, (), model.name, runtime.device, runtime.compute_type)
    pieces, info = whisper.transcribe(
        audio,
        language=options.language,
        vad_filter=True,
        word_timestamps=True,
    )
    segments: list[Segment] = []
    for piece in pieces:  # a generator: the work happens as it is read
        segments.append(_segment(piece))
        if progress is not None:
            progress(min(piece.end, total), total)
    if progress is not None:
        progress(total, total)
    return Transcript(
        language=info.language,
        language_probability=round(float(info.language_probability), 4),
        duration_s=round(total, 3),
        speech_s=round(float(info.duration_after_vad), 3),
        segments=tuple(segments),
        model=model.name,
        device=runtime.device,
        compute_type=runtime.compute_type,
    )


def _thread_lock_for_tqdm() -> None:
    """faster-whisper makes a (disabled) tqdm bar per file, and tqdm's first bar creates a
    multiprocessing lock: a POSIX semaphore that an isolated worker, leaving with
    ``os._exit``, never releases, so Python warns of a leaked semaphore at exit. A thread
    lock is all one transcription needs."""
    from tqdm import tqdm

    if not hasattr(tqdm, "_lock"):
        tqdm.set_lock(threading.RLock())


def _segment(piece: Any) -> Segment:
    words = tuple(
        Word(round(w.start, 3), round(w.end, 3), w.word, round(float(w.probability), 3))
        for w in piece.words or ()
    )
    return Segment(
        start=round(piece.start, 3),
        end=round(piece.end, 3),
        text=piece.text.strip(),
        words=words,
        avg_logprob=round(float(piece.avg_logprob), 4),
        no_speech_prob=round(float(piece.no_speech_prob), 4),
    )
