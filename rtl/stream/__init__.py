"""Data movers shared by the accelerators (and the cluster DMA to come),
joined by :mod:`amaranth.lib.stream` interfaces (docs/protocols.md,
"Streams"):

* :class:`StridedAddressGenerator`: three-level strided patterns of byte
  segments as groups of word addresses, one word per port per cycle;
* :class:`TcdmRequestPort` / :class:`TcdmPortGroup`: a stream of word
  requests onto TCDM master ports through two-entry request FIFOs, and the
  responses back with the request's tag;
* :class:`SegmentPort`: byte segments at any alignment, read (re-aligned) or
  written, over N ports in lockstep.

FIFOs are :mod:`amaranth.lib.fifo`'s, through their ``w_stream`` /
``r_stream`` interfaces.
"""

from .addrgen import POS_BITS, STRIDED_PATTERN, StridedAddressGenerator, WordGroup
from .segment import ReadRequest, ReadResponse, SegmentPort, WriteRequest
from .tcdm import TcdmPortGroup, TcdmRequest, TcdmRequestPort, TcdmResponse, WordRequests

__all__ = ["POS_BITS", "STRIDED_PATTERN", "StridedAddressGenerator", "WordGroup",
           "ReadRequest", "ReadResponse", "SegmentPort", "WriteRequest",
           "TcdmPortGroup", "TcdmRequest", "TcdmRequestPort", "TcdmResponse", "WordRequests"]
