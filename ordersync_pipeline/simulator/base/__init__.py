"""What every simulated marketplace is built from; each marketplace's package puts its API on top.

- ``world.SimulatedWorld``: the account's state behind one lock, with its clock (``clock``) and
  the orders by id and by state; a marketplace's world adds its records and its API's answers;
- ``lifecycle.Lifecycle``: what each step of simulated time brings, and the seeded history;
- ``faults.SimulatedFaults``: the fault knobs (latency, rate limit, failures, ``chaos``);
- ``server``: the HTTP server and the request handling every marketplace shares, with the
  ``/_sim/`` control API; ``running.RunningSimulator`` starts and stops it;
- ``catalogue``, ``values``, ``wire``: the goods and customers, time and money, JSON.

Nothing here imports a marketplace's package, and no marketplace imports another's.
"""
