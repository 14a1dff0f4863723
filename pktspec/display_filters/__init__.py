"""Display filters: pick decoded packets by their fields, as tshark's ``-Y`` does.

BPF (``-f``) sees only bytes at fixed offsets; a display filter sees what the layers decoded,
including layers from the user's own .layer files::

    tcp.dst_port == 443 and ipv4.ttl < 64
    dns and not udp.port == 53           # a layer's name alone: the packet has it
    tcp.flags.syn and !tcp.flags.ack     # a flag by name
    ipv4.addr == 10.0.0.0/8              # addr/port: either end (flows' endpoints)
    ipv4.protocol == UDP                 # enum values by name
    payload.data contains "GET /"        # bytes or text; "..." or 01:02:03 hex
    tcp.payload matches "^get /[a-z]+"   # a regular expression (case-insensitive), also ~
    tcp.srcport < tcp.dstport            # a field on both sides
    tcp.flags & 0x12 == 0x12             # bitwise and; "tcp.flags & 0x02" alone: not zero
    frame.number <= 10 or frame.len > 1000   # the record: number, len, cap_len, times
    tcp.dst_port in {80 443 8080}

Layer names are the registered ones in any case, plus tshark's (``ip``, ``eth``, ``ip6``,
``icmp``, ``wlan``, ``data``, ...); field names are the layers' own (``pktspec list LAYER``)
or tshark's (``tcp.srcport``, ``ip.hdr_len``, ``tcp.len``, ``dns.qry.name``, ...: see
``TSHARK_FIELDS``). A comparison holds when any layer of that name in the packet satisfies it
(a tunnel has two IPv4 layers), as in tshark; with a field on both sides, when any pair does.

The text is parsed (lark, LALR) into a tree of small closures: nothing in it is evaluated as
Python. A mistake is a :class:`DisplayFilterError` with the column, the text and a caret.

``frame.number`` and ``frame.time_relative`` need to know where the packet is in its capture:
the caller says so with a :class:`Frames` (``pktspec decode`` passes the file's record
numbers); without one, a filter numbers the packets it is given, 1 upwards, and measures
times from the first of them (right for ``pktspec.open(path, filter=...)``, which gives it
every record in order).

The package has one module per part, in the order a filter passes through them:
``parser`` (the grammar, lark's LALR parser, syntax errors), ``references`` (``layer.field``
resolved against the registry, and read from a packet), ``tshark_fields`` (tshark's names,
computed fields and hex fields), ``frames`` (record numbers and times), ``literals`` (the
values in the text, read as their field's kind), ``compiler`` (the tree to closures:
:func:`compile_filter`) and ``columns`` (``-e``: :func:`compile_field`, :func:`field_text`);
their one error, :class:`DisplayFilterError`, lives with the others in :mod:`pktspec.errors`
(re-exported here). It builds on :mod:`pktspec.runtime` (the registry and
the decoded layers); ``pktspec decode -Y/-e`` and ``pktspec.display_filter`` call into it.
"""

# field_text, flag_mask, MAX_DEPTH, Test and Predicate are re-exported (``as``) so that
# every name importable from the module before it became this package still is.
from pktspec.display_filters.columns import FieldColumn, compile_field
from pktspec.display_filters.columns import field_text as field_text
from pktspec.display_filters.compiler import DisplayFilter, compile_filter
from pktspec.display_filters.compiler import Predicate as Predicate
from pktspec.display_filters.compiler import Test as Test
from pktspec.display_filters.frames import Frames
from pktspec.display_filters.parser import MAX_DEPTH as MAX_DEPTH
from pktspec.display_filters.references import flag_mask as flag_mask
from pktspec.display_filters.tshark_fields import TSHARK_FIELDS
from pktspec.errors import DisplayFilterError

__all__ = ["DisplayFilter", "DisplayFilterError", "FieldColumn", "Frames", "TSHARK_FIELDS",
           "compile_field", "compile_filter"]
