mod corpus;
mod truncation;
