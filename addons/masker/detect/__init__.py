"""Detection passes (regex, spoken forms, NER) and their merge."""
