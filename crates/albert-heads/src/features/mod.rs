//! Turning task examples into model inputs and model outputs back into task predictions.

pub mod qa;
