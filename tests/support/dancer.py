"""The starter's procedural dancer in one namespace, as its tests address it (``mv.…``): the skeleton
(:mod:`choreo_engine.starter.skeleton`), the move vocabulary (:mod:`choreo_engine.starter.moves`) and
the choreographer (:mod:`choreo_engine.starter.choreograph`)."""

from choreo_engine.starter.choreograph import DanceTake, choreograph
from choreo_engine.starter.moves import MOVES, STYLES, Move, moves_for_style
from choreo_engine.starter.skeleton import BONES, FLOOR_Y, PARAM_NAMES, forward_kinematics, project, rest_params

__all__ = ["BONES", "DanceTake", "FLOOR_Y", "MOVES", "Move", "PARAM_NAMES", "STYLES", "choreograph",
           "forward_kinematics", "moves_for_style", "project", "rest_params"]
