"""Choosing the moves: the four scores (:mod:`.scoring`, steps 4 and 5), six candidates per segment
and the auto path (:mod:`.planner`, step 6), and the metrics that judge a plan (:mod:`.metrics`)."""
