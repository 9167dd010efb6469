import pickle

from docframe.errors import ConnectorError, DocframeError


def test_errors_pickle_with_their_help():
    err = ConnectorError("x.txt: empty file", help="add content")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ConnectorError
    assert isinstance(back, DocframeError)
    assert back.help == "add content"
    assert str(back) == "x.txt: empty file (help: add content)"
