"""The scheduling service's pure rules: holds, booking constraints, Tasks and slots.

No I/O here: FHIR JSON dicts and policy dataclasses in, plain results and FHIR JSON out.
"""
