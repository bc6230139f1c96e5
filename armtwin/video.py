"""Writing videos a person can watch (H.264 MP4 through PyAV's bundled FFmpeg)."""

from __future__ import annotations


class Mp4Writer:
    """H.264 MP4 through PyAV (bundled FFmpeg): ``write((H, W, 3) uint8)``, then ``close()``.
    Odd frame sizes are padded by one black row/column (yuv420p needs even sizes)."""

    def __init__(self, path: str, *, fps: int, crf: int = 23):
        import av
        import av.logging

        # libx264 prints its settings and statistics at INFO; a person wants the video, not those.
        av.logging.set_level(av.logging.ERROR)
        self._av = av
        self._container = av.open(path, mode="w")
        self._stream = self._container.add_stream("libx264", rate=fps)
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"preset": "ultrafast", "crf": str(crf)}
        self._size = None

    def write(self, image) -> None:
        import numpy as np

        h, w = image.shape[:2]
        if self._size is None:
            self._size = (h + h % 2, w + w % 2)
            self._stream.height, self._stream.width = self._size
        if (h, w) != self._size:
            padded = np.zeros((*self._size, 3), np.uint8)
            padded[:h, :w] = image
            image = padded
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        """Flush and close (idempotent; after a failed flush the file is still closed)."""
        container, self._container = self._container, None
        if container is None:
            return
        try:
            if self._size is not None:  # a stream that never got a frame has nothing to flush
                for packet in self._stream.encode():
                    container.mux(packet)
        finally:
            container.close()
