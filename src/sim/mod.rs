//! Simulated QuickBooks Online and Ordoro services that speak the real wire formats.
