"""STARK speaking TraX on stdin/stdout: the VOT toolkit's ``traxpython`` protocol (``python -m lib.tracker.vot_trax``).

Configured by environment variables (``env_STARK_*`` keys in ``trackers.ini``): ``STARK_TRACKER`` (stark_st),
``STARK_CONFIG`` (baseline), ``STARK_CHECKPOINT``, ``STARK_STACK`` (decides mode, region format and confidence,
see :data:`lib.tracker.vot.STACKS`), ``STARK_OPTS`` (config overrides), ``STARK_DEVICE`` and
``STARK_HANDSHAKE_TIMEOUT`` (seconds, default 60).

A handshake that cannot happen never hangs: started from a terminal, the process says so and exits 2; when no
TraX client has sent the first request within the timeout, or the TraX setup fails, it writes one line to
stderr and exits 3 (the toolkit shows it in the tracker log).
"""

from __future__ import annotations

import os
import sys
import threading

EXIT_USAGE, EXIT_HANDSHAKE = 2, 3


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"stark vot_trax: {message}\n")
    sys.stderr.flush()
    os._exit(code)  # also from the watchdog thread, while the main thread is blocked in the TraX library


def _region_box(region, trax) -> list[float]:
    from lib.tracker.vot import box_from_mask

    if region.type == trax.Region.MASK:
        return box_from_mask(region.array(normalize=True))
    return [float(v) for v in region.bounds()]


def serve(build_session, spec, trax, timeout: float) -> None:
    """Answer TraX requests until the client quits; the first request must arrive within ``timeout`` seconds.

    The network is built on the first request (``build_session()``), after the handshake, so loading a large
    checkpoint counts against the toolkit's per-answer timeout rather than delaying the handshake.
    """
    from lib.tracker.vot import box_mask, read_frame

    watchdog = threading.Timer(timeout, _fail, (f"no TraX handshake within {timeout:g} s; this program is started "
                                                "by the VOT toolkit (vot test / vot evaluate)", EXIT_HANDSHAKE))  # fmt: skip
    watchdog.daemon = True
    watchdog.start()
    formats = [trax.Region.MASK] if spec.output == "mask" else [trax.Region.RECTANGLE]
    try:
        server = trax.Server(formats, [trax.Image.PATH], tracker_name="STARK", tracker_family="STARK", multiobject=True)
    except trax.TraxException as exc:
        _fail(f"TraX setup failed: {exc}", EXIT_HANDSHAKE)
    session = None
    with server:
        while True:
            try:
                request = server.wait()
            except trax.TraxException as exc:
                _fail(f"TraX connection lost: {exc}", EXIT_HANDSHAKE)
            watchdog.cancel()
            if request.type == trax.TraxStatus.QUIT:
                break
            session = session or build_session()
            image = read_frame(request.image["color"].path())
            boxes = [_region_box(region, trax) for region, _ in request.objects or []]
            if request.type == trax.TraxStatus.INITIALIZE:
                answers = session.initialize(image, boxes)
            else:
                answers = session.track(image, boxes)
            status = []
            for box, score in answers:
                if spec.output == "mask":
                    region = trax.Mask.create(*box_mask(box, image.shape[1], image.shape[0]))
                else:
                    region = trax.Rectangle.create(*box)
                status.append((region, {"confidence": score} if spec.confidence else {}))
            server.status(status)


def main() -> int:
    if sys.stdin.isatty():
        _fail("started from a terminal: TraX talks to the VOT toolkit over stdin/stdout; run it through "
              "`vot test <tracker>` or `vot evaluate` in a workspace written by tracking/vot_workspace.py", EXIT_USAGE)  # fmt: skip
    try:
        import trax
    except ImportError:
        _fail("vot-trax is not installed (pip install -e .[vot])", EXIT_USAGE)
    from lib.config import ConfigError
    from lib.tracker.vot import VotError, build_session, stack_spec

    env = os.environ
    try:
        spec = stack_spec(env.get("STARK_STACK", "vot2022/shorttermbox"))
        timeout = float(env.get("STARK_HANDSHAKE_TIMEOUT", "60"))
    except (VotError, ValueError) as err:
        _fail(str(err), EXIT_USAGE)

    def build():
        try:
            return build_session(env.get("STARK_TRACKER", "stark_st"), env.get("STARK_CONFIG", "baseline"),
                                 env.get("STARK_CHECKPOINT"), spec.mode, env.get("STARK_OPTS", ""),
                                 env.get("STARK_DEVICE", "auto"))  # fmt: skip
        except (ConfigError, VotError, ValueError) as err:
            _fail(str(err), EXIT_USAGE)

    serve(build, spec, trax, timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
