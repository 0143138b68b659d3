//! SSH transport (russh): being written.
