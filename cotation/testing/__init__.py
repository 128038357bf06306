"""A grid's test cases written as data (``*.cases.yaml``): the runner behind ``cotation test``
and the pytest plugin that collects them."""
