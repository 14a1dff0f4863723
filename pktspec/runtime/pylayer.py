"""Layers written in plain Python, beside the ones generated from .layer files.

A .layer file is the usual way to add a protocol. Sometimes a few lines of Python are simpler
(a header computed from another, a quick experiment, a test fixture), so a layer can also be a
:class:`PyLayer` subclass with one method, registered in code like any generated layer
(gopacket's RegisterLayerType with a custom decoder)::

    class Shim(PyLayer):
        '''A 4-byte header some capture cards put in front of Ethernet.'''

        field_names = ("magic", "ethertype")
        layer_class = LayerClass.LINK

        def decode(self, data):
            if len(data) < 4:
                raise self._truncated(data, 0, len(data))
            self.magic, self.ethertype = struct.unpack_from(">HH", data)
            return 4, REGISTRY.table("EtherType").get(self.ethertype)

    REGISTRY.add_layer(Shim)
    REGISTRY.table("LinkType").bind(147, Shim, source=__name__)   # LINKTYPE_USER0
    packet = decode(data, Shim)

``decode`` gets the layer's bytes as a memoryview starting at offset 0 and returns the header
length and the next layer class (or None); it may return a third number, the payload length,
when the layer has a trailer. Offsets in errors raised from ``decode`` are relative to the
layer; the runtime does not shift them, so use ``self._fail(field, self.offset + n, ...)``
when the absolute position matters. A PyLayer costs a memoryview and a method call more than
a generated layer: fine for a custom header, not for a protocol of every packet.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pktspec.errors import DecodeError
from pktspec.runtime.layer import FieldInfo, Layer

__all__ = ["PyLayer"]


class PyLayer(Layer):
    """Base of layers written in Python: implement :meth:`decode`, set fields as attributes.

    ``field_names`` lists the attributes that ``fields()``, ``repr()`` and dumps show (in that
    order), unless the class gives a full ``fields_info`` tuple of FieldInfo.
    """

    field_names: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "fields_info" not in cls.__dict__ and cls.field_names:
            cls.fields_info = tuple(FieldInfo(n, "python", kind="value") for n in cls.field_names)
        if "source" not in cls.__dict__:
            cls.source = f"{cls.__module__}.{cls.__qualname__}"

    def decode(self, data: memoryview) -> tuple[int, type[Layer] | None] | tuple[int, Any, int]:
        """Set the fields; return (header length, next class or None[, payload length])."""
        raise NotImplementedError(f"{type(self).__name__} must implement decode(data)")

    def _decode(self, buf: Any, off: int, end: int) -> type[Layer] | None:
        self._off = off  # so that self.offset works inside decode()
        view = memoryview(buf)[off:end]
        result = self.decode(view)
        hlen = result[0]
        nxt = result[1]
        hend = off + hlen
        pend = hend + result[2] if len(result) > 2 else end
        if not 0 <= hlen <= end - off or pend > end:
            raise DecodeError(
                self.name,
                "",
                off,
                f"decode() reported {hlen} header bytes and payload up to {pend - off},"
                f" but the layer has {end - off}",
                truncated=True,
            )
        self._set_bounds(buf, off, hend, pend, end)
        return nxt
