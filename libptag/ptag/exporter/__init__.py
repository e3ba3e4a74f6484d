"""The machinery behind ``ptag exporter``: Prometheus metrics per group of processes
that share the values of some trusted tags.

- :mod:`ptag.exporter.groups`: which tag keys become which labels, whose tags are
  trusted, and the group a process belongs to (pure, no I/O);
- :mod:`ptag.exporter.book`: the per-group totals, with counters that never go
  backwards while processes exit and PIDs are reused (pure);
- :mod:`ptag.exporter.textfile`: the atomic write of a node_exporter textfile;
- :mod:`ptag.exporter.collector`: the ``prometheus_client`` collector over
  :func:`ptag.process_iter`, and its HTTP and text outputs.  The only module that
  imports ``prometheus_client`` (``pip install 'libptag[exporter]'``).
"""
