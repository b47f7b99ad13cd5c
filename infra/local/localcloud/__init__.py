"""The local cloud: loanflow's whole system on one machine, offline, without Docker.

Developer tooling only; function code never imports it. ``template`` reads template.yaml,
``provision`` creates its resources on moto (in-process ``mock_aws`` or the moto server).
"""
