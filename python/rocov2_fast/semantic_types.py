"""The semantic types ROCOv2 keeps (its Table 3), in a module with no imports: the command line
reads it for its defaults without loading MedCAT or polars."""

DEFAULT_TUIS = ("T023", "T060", "T029", "T082", "T046", "T047", "T080", "T030", "T074", "T191")
