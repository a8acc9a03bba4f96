"""For analysts and notebooks: data frames over the API or the database, offline maps, density."""
