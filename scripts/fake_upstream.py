"""Run the fake upstream (see livetoken/fake_upstream.py): python scripts/fake_upstream.py --port 9000"""

from livetoken.fake_upstream import main

if __name__ == "__main__":
    main()
