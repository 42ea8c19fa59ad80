"""Reusable HWPE pieces: register descriptions and the controller built from them."""
from .regs import Field, Register, RegisterMap, control_registers
from .controller import HwpeController, IoSignature, JobSignature

__all__ = ["Field", "Register", "RegisterMap", "control_registers", "HwpeController",
           "IoSignature", "JobSignature"]
