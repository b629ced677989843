"""The dial path: the engine loop, how a lead is originated, following calls to their
end, pacing and the operator board. Imports domain, policy, config, store, pbx, intake."""
