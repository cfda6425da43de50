"""The built-in synthetic Korean corpus (``hypersp-prepare synthetic`` / ``synthetic_tel``).

- :mod:`~hypersp.prepare.synthetic.generator`: plans and writes the corpus (``generate_corpus``).
- :mod:`~hypersp.prepare.synthetic.espeak`: the eSpeak NG synthesizer it speaks with.
- :mod:`~hypersp.prepare.synthetic.korean_text`: the template sentence generator (its numbers are written by
  :mod:`hypersp.text.numbers`, the reader the ``korean`` normalizer reads digits with).
- :mod:`~hypersp.prepare.synthetic.broad_text`: the optional broad pool of real sentences (``text=broad``).
- :mod:`~hypersp.prepare.synthetic.open_test_text`: the reserved open-vocabulary test sentences.
"""
