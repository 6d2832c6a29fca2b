"""Training the CNTRL stages on ROCStories: data (`data`), text clean-up (`text`), the trainer (`trainer`)."""
