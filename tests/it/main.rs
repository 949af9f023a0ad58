mod placeholder {}
mod geometry;
