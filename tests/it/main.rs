mod placeholder {}
mod project;
