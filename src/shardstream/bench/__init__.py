"""The parts of ``shardstream bench`` (:mod:`shardstream.bench_cli`), one job each.

* :mod:`.workload`: the workload (:class:`~.workload.Workload`), pre-built payloads, latency stamps;
* :mod:`.target`: the engine behind ``--url`` (``serve``: a ``shardstream serve`` child);
* :mod:`.throughput`: producers and consumers, records/s and MB/s;
* :mod:`.latency_phase`: paced puts timed to :mod:`.readers` (a GetRecords loop, SubscribeToShard),
  one read path at a time, recorded by :mod:`.latency`; :mod:`.reader_set` runs a path's readers,
  :mod:`.reader_process` runs them in a child process for an engine behind a URL;
* :mod:`.runner`: one run of both phases;
* :mod:`.progress`, :mod:`.report`, :mod:`.plot`: progress bars, result tables, the PNG.
"""
