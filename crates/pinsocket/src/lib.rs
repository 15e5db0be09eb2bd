//! pinsocket
